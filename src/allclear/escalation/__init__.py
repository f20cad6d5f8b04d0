"""Escalation: P1/P2 failures go to the target's sinks, inconclusive items to ops, green runs resolve.

- dispatch.py: `escalate(verdict, ...)`, the one entry point, and `resolve_mode`;
- plan.py and state.py: what a run changes (open / update / resolve) and what each sink was told;
- message.py: the notice every sink is given; base.py: what a sink is; courier.py: sending (or
  writing a dry run);
- one module per sink (pagerduty, jira, zendesk, slack, webhook, email): its settings and its client;
- settings.py: the target's [escalation] table.
"""
