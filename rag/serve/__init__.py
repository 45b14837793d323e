"""Serving: the Gradio chat page, its Articles panel, the JSON HTTP API and the request limits, on one
server."""
