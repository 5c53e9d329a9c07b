"""Look and feel, kept out of the Python that wires events."""

from __future__ import annotations

import gradio as gr

THEME = gr.themes.Soft(primary_hue="amber", secondary_hue="slate")

CSS = """
.arena-panes { gap: 12px; }
.arena-pane-title { margin-bottom: -2px; }
/* A pane's own "Clear" would wipe the history in the browser only, out of step with the battle on the server. */
.arena-chat button[aria-label="Clear"] { display: none !important; }
/* The AI judges' report has a seven-column table: on a narrow screen it scrolls sideways in its own box
   instead of squeezing every cell to a letter per line. */
#leaderboard-judges-report table, #admin-agreement table {
  display: block; width: max-content; max-width: 100%; overflow-x: auto; border: none; padding: 0;
}
#leaderboard-judges-report :is(th, td), #admin-agreement :is(th, td) { white-space: nowrap; word-break: normal; }
@media (max-width: 720px) {
  .arena-panes { flex-direction: column !important; }
}
"""
