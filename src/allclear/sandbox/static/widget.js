/*
 * The sandbox's chat widget: a stand-in for the vendor's, written for allclear (no vendor code).
 *
 * Reads window.gladlyConfig.appId, fetches its configuration from the origin it was loaded from,
 * and then: throttled to 0% -> renders nothing; otherwise a launcher that opens a panel with FAQ
 * search and quick actions (when "Enable Search and Quick Actions" is on: self-service, at any
 * hour), then "Start a chat" in business hours, the offline message outside them. Quick actions
 * that fail to load are retried every 2 s, and the loading placeholder stays meanwhile.
 * Healthy, it logs nothing to the console.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : window.location.origin;
  var appId = (window.gladlyConfig || {}).appId;
  var ORG_ID = "sandbox-org";
  var RETRY_MS = 2000;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function getJson(path) {
    return fetch(base + path, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status + " from " + path);
      return response.json();
    });
  }

  function postJson(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status + " from " + path);
      return response.json();
    });
  }

  var STYLE = [
    "#gladly-launcher{position:fixed;right:24px;bottom:24px;z-index:2147483000;border:0;border-radius:28px;",
    "padding:14px 20px;background:#1f6f5c;color:#fff;font:600 15px sans-serif;cursor:pointer;",
    "box-shadow:0 4px 12px rgba(0,0,0,.25)}",
    "#gladly-panel{position:fixed;right:24px;bottom:88px;z-index:2147483000;width:320px;max-height:70vh;",
    "overflow:auto;background:#fff;border:1px solid #ccc;border-radius:10px;padding:14px;",
    "font:14px sans-serif;box-shadow:0 6px 20px rgba(0,0,0,.2)}",
    "#gladly-panel[hidden]{display:none}",
    "#gladly-panel input{box-sizing:border-box;width:100%;padding:8px;margin:4px 0}",
    "#gladly-panel button{margin:4px 4px 4px 0;padding:6px 10px;cursor:pointer}",
    "#gladly-panel ul{padding-left:18px}"
  ].join("");

  function searchArea() {
    var area = el("section", { "data-testid": "chat-search" });
    var form = el("form", { role: "search" });
    var input = el("input", { type: "search", name: "q", placeholder: "Search our answers",
                              "aria-label": "Search our answers", "data-testid": "chat-search-input" });
    var results = el("div", { "data-testid": "chat-search-results", "aria-live": "polite" });
    form.appendChild(input);
    area.appendChild(form);
    area.appendChild(results);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var query = input.value.trim();
      if (!query) return;
      results.replaceChildren(el("p", { "data-testid": "chat-search-loading" }, "Searching\u2026"));
      getJson("/api/v1/orgs/" + ORG_ID + "/answers-search?q=" + encodeURIComponent(query) + "&lng=en-us")
        .then(function (answers) {
          if (!answers.length) {
            results.replaceChildren(el("p", { "data-testid": "chat-search-empty" }, "No answers found."));
            return;
          }
          var list = el("ul");
          answers.forEach(function (answer) {
            var item = el("li", { "data-testid": "chat-search-result", "data-answer-id": answer.id });
            item.appendChild(el("strong", {}, answer.name));
            if (answer.snippet) item.appendChild(el("p", {}, answer.snippet));
            list.appendChild(item);
          });
          results.replaceChildren(list);
        })
        .catch(function (error) {
          console.error("Chat widget: answer search failed:", error.message);
          results.replaceChildren(el("p", { "data-testid": "chat-search-error" },
                                     "Search is unavailable right now."));
        });
    });
    return area;
  }

  function quickActionsArea(onAction) {
    var area = el("section", { "data-testid": "chat-quick-actions" });
    area.appendChild(el("p", { "data-testid": "chat-quick-actions-loading" }, "Loading\u2026"));
    function load() {
      getJson("/chat-sdk/quick-actions/" + encodeURIComponent(appId) + ".json")
        .then(function (body) {
          var buttons = (body.quickActions || []).map(function (action) {
            var button = el("button", { type: "button", "data-testid": "chat-quick-action",
                                        "data-action-id": action.id }, action.label);
            button.addEventListener("click", function () { onAction(action); });
            return button;
          });
          area.replaceChildren.apply(area, buttons);
        })
        .catch(function (error) {
          console.error("Chat widget: quick actions did not load, retrying:", error.message);
          setTimeout(load, RETRY_MS);
        });
    }
    load();
    return area;
  }

  function chatArea() {
    var area = el("section", { "data-testid": "chat-conversation" });
    var start = el("button", { type: "button", "data-testid": "chat-start" }, "Start a chat");
    var composer = null;
    var conversationId = null;
    area.appendChild(start);

    function open(prefill) {
      if (!composer) {
        composer = el("form", { "data-testid": "chat-composer" });
        var input = el("input", { type: "text", name: "message", placeholder: "Type your message",
                                  "aria-label": "Your message", "data-testid": "chat-message-input" });
        var send = el("button", { type: "submit", "data-testid": "chat-send" }, "Send");
        var status = el("p", { "data-testid": "chat-message-status", "aria-live": "polite", hidden: "" });
        composer.appendChild(input);
        composer.appendChild(send);
        composer.appendChild(status);
        composer.addEventListener("submit", function (event) {
          event.preventDefault();
          var text = input.value.trim();
          if (!text) return;
          status.hidden = false;
          status.textContent = "Sending\u2026";
          var ready = conversationId ? Promise.resolve(conversationId)
            : postJson("/chat-sdk/conversations", { appId: appId }).then(function (body) {
              conversationId = body.id;
              return conversationId;
            });
          ready
            .then(function (id) {
              return postJson("/chat-sdk/conversations/" + encodeURIComponent(id) + "/messages", { text: text });
            })
            .then(function () {
              input.value = "";
              status.textContent = "Sent";
            })
            .catch(function (error) {
              console.error("Chat widget: the message was not delivered:", error.message);
              status.textContent = "Could not deliver your message. Please try again.";
            });
        });
        start.replaceWith(composer);
      }
      var field = composer.querySelector("[data-testid=chat-message-input]");
      if (prefill && !field.value) field.value = prefill;
      field.focus();
    }

    start.addEventListener("click", function () { open(""); });
    return { node: area, open: open };
  }

  function panelFor(config) {
    var panel = el("div", { id: "gladly-panel", role: "dialog", "aria-label": "Chat", "data-testid": "chat-panel" });
    panel.appendChild(el("h2", {}, "How can we help?"));
    var chat = config.available ? chatArea() : null;
    if (config.searchAndQuickActionsEnabled) {
      panel.appendChild(searchArea());
      panel.appendChild(quickActionsArea(function (action) { if (chat) chat.open(action.label); }));
    }
    panel.appendChild(chat ? chat.node : el("p", { "data-testid": "chat-offline" }, config.offlineMessage));
    return panel;
  }

  function render(config) {
    if (!config.throttlePercent) return;   // throttled to 0%: the widget does not show at all
    var style = el("style");
    style.textContent = STYLE;
    document.head.appendChild(style);
    var launcher = el("button", { id: "gladly-launcher", type: "button", "data-testid": "chat-launcher",
                                  "aria-label": "Chat with us", "aria-expanded": "false" }, "Chat with us");
    var panel = null;
    launcher.addEventListener("click", function () {
      if (!panel) {
        panel = panelFor(config);
        document.body.appendChild(panel);
      } else {
        panel.hidden = !panel.hidden;
      }
      launcher.setAttribute("aria-expanded", String(!panel.hidden));
    });
    document.body.appendChild(launcher);
  }

  if (!appId) {
    console.error("Chat widget: window.gladlyConfig.appId is not set");
    return;
  }
  getJson("/chat-sdk/config/" + encodeURIComponent(appId) + ".json")
    .then(function (config) {
      if (document.body) render(config);
      else document.addEventListener("DOMContentLoaded", function () { render(config); });
    })
    .catch(function (error) {
      console.error("Chat widget: could not load its configuration:", error.message);
    });
})();
