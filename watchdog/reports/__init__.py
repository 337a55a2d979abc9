"""The monthly cost and capacity summary: figures, chart, renderings and delivery."""
