"""allclear: the post-maintenance Go checklist for contact-center platforms."""

__version__ = "0.1.0"
