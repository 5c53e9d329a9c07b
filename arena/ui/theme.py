"""Look and feel, kept out of the Python that wires events."""

from __future__ import annotations

import gradio as gr

THEME = gr.themes.Soft(primary_hue="amber", secondary_hue="slate")

CSS = """
.arena-panes { gap: 12px; }
@media (max-width: 720px) {
  .arena-panes { flex-direction: column !important; }
}
"""
