"""The HTML report: its parts, the theory rendered, the costs of the study."""
