"""The Gradio front end: thin tabs over :class:`arena.service.Arena`."""

from arena.ui.app import build_demo

__all__ = ["build_demo"]
