"""The chat page's Gradio components, and the whole server (page and JSON API) as one ASGI app.

`build_server` is what app.py serves: the FastAPI app of rag/serve/api.py with the page mounted at "/".
The page's logic lives outside Gradio (rag.serve.service.Service, rag.serve.panel, rag.serve.page); this module only
lays out the components and wires their events to it.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from rag.serve.api import Login, create_api
from rag.serve.page import collection_markdown, escape
from rag.serve.panel import MAX_FILES, ArticlesPanel, Editing, View, editing_for
from rag.serve.service import Service

EXAMPLES = [
    "Who noted that the Hub periodically conducts needs assessment surveys?",
    "Who received a special ACSH award at the New York workshop?",
    "Where was the ACSH-ICSC workshop held?",
    "When did the Serbian delegation visit Belgium?",
    "How many countries participate in the Astana Civil Service Hub?",
]
CSS = """
.rag-source { margin: 0.4em 0 0.8em; }
.rag-source blockquote { margin: 0.3em 0 0; padding-left: 0.8em; border-left: 3px solid #bbb; }
.rag-source mark { background: #ffe58a; padding: 0 2px; }
.rag-articles { width: 100%; border-collapse: collapse; font-size: 0.92em; }
.rag-articles th, .rag-articles td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; }
.rag-articles td:nth-child(n+3) { white-space: nowrap; }
"""


def build_app(service: Service, editing: Editing = Editing(False, "Uploads and deletes are off.")) -> gr.Blocks:
    """The page: description, chat, examples, settings, the Articles panel, and the `/ask` API endpoint."""
    try:
        about = collection_markdown(service.assistant().index.titles)
    except Exception as exc:
        about = f"⚠️ The index could not be loaded: {escape(str(exc))}"
    with gr.Blocks(title="Ask the articles") as demo:
        gr.Markdown("## Ask the articles\nAnswers are **quoted verbatim** from the articles, with sources. "
                    "When the articles don't answer, the assistant says so.")
        with gr.Accordion("What the collection covers", open=False):
            about_md = gr.Markdown(about)
        chat = gr.Chatbot(label="Answers", height=520, buttons=["copy", "copy_all"], elem_id="chat")
        box = gr.Textbox(placeholder="Ask a question about the articles and press Enter", show_label=False,
                         elem_id="question", lines=1, max_lines=4, submit_btn=True)
        gr.Examples(EXAMPLES, inputs=[box], label="Examples")
        with gr.Accordion("Settings", open=False):
            k = gr.Slider(1, 20, value=service.settings.k, step=1, label="Passages to read")
            show_scores = gr.Checkbox(False, label="Show scores")
        articles_panel(demo, ArticlesPanel(service, editing, Path(gr.utils.get_upload_folder())), about_md)
        box.submit(service.respond, [box, chat, k, show_scores], [box, chat], api_visibility="private")
        gr.api(service.ask_json, api_name="ask")
        gr.api(service.source_json, api_name="source")
        gr.api(service.source_at_json, api_name="source_at")
    return demo


def articles_panel(demo: gr.Blocks, panel: ArticlesPanel, about_md: gr.Markdown) -> None:
    """The "Articles" accordion: the collection's table, and when editing is allowed an upload box
    (drag and drop, several files) and a delete with a confirm step, each reporting its progress."""
    with gr.Accordion("Articles", open=False, elem_id="articles"):
        gr.Markdown(panel.notice(), elem_id="articles-notice")
        if panel.editing.allowed:
            files = gr.File(file_count="multiple", label="Add articles: PDF, HTML, DOCX, TXT, MD", elem_id="upload",
                            height=160)
        status = gr.Markdown(elem_id="articles-status")
        table = gr.HTML(panel.view().table, elem_id="articles-table")
        if not panel.editing.allowed:
            demo.load(lambda: _shown(panel.view(), False)[1:3], None, [table, about_md], api_visibility="private")
            return  # no upload or delete controls, hence no events to call
        with gr.Row():
            chosen = gr.Dropdown(choices=panel.view().choices, multiselect=True, label="Articles to delete",
                                 elem_id="delete-choice", scale=4)
            ask = gr.Button("Delete…", elem_id="delete", scale=1)
        pending = gr.State([])
        with gr.Row(visible=False) as confirm_row:
            question = gr.Markdown(elem_id="delete-question")
            confirm = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete", scale=0)
            cancel = gr.Button("Cancel", elem_id="cancel-delete", scale=0)

    def upload(paths: list[str] | None):
        for view in panel.upload(paths):  # a generator, so each step shows as it happens
            yield _shown(view, True)

    def delete(ids: list[str] | None):
        for view in panel.delete(ids):
            yield _shown(view, True) + [gr.update(visible=False), []]

    shown = [status, table, about_md, chosen, files]
    # One change at a time (concurrency_id): a second upload waits for the first one's index.
    edits = dict(concurrency_limit=1, concurrency_id="articles", api_visibility="private")
    files.upload(upload, [files], shown, **edits)
    ask.click(lambda ids: _confirm_step(panel, ids), [chosen], [question, pending, confirm_row],
              api_visibility="private")
    confirm.click(delete, [pending], shown + [confirm_row, pending], **edits)
    cancel.click(lambda: ("", [], gr.update(visible=False)), None, [question, pending, confirm_row],
                 api_visibility="private")
    demo.load(lambda: _shown(panel.view(), True)[1:4], None, [table, about_md, chosen], api_visibility="private")


def _shown(view: View, editing: bool) -> list:
    """A View as the panel's outputs: status, table, collection summary, then (editing) the delete
    choices and the upload box, emptied (its files were handled)."""
    out = [view.status, view.table, view.about]
    if editing:
        out += [gr.update(choices=view.choices, value=[]), None]
    return out


def _confirm_step(panel: ArticlesPanel, ids: list[str] | None) -> tuple:
    """The delete button: ask to confirm the chosen articles (nothing is deleted yet)."""
    message, pending = panel.ask_delete(ids)
    return message, pending, gr.update(visible=bool(pending))


def build_server(service: Service, login: Login | None = None, concurrency: int = 2,
                 host: str = "127.0.0.1") -> FastAPI:
    """The whole server as one ASGI app: the JSON API (rag/serve/api.py) with the page mounted at "/".

    Both share the port, the request limits of rag/serve/guard.py (bodies bounded; uploads only when the
    Articles panel takes them, see rag.serve.panel.editing_for) and `login` (rag.serve.guard.slow_login's
    check): the page asks for it in a form, the API as HTTP Basic. `concurrency` questions at once
    for the page and as many for the API (a pool each). `host` is the address served on.
    """
    editing = editing_for(service.settings, host, login is not None)
    limit = service.settings.max_upload_bytes
    demo = build_app(service, editing).queue(default_concurrency_limit=concurrency)
    api = create_api(service, login=login, workers=concurrency,
                     upload_bytes=MAX_FILES * (limit + 4096) if editing.allowed else None)  # + multipart headers
    return gr.mount_gradio_app(api, demo, path="/", auth=login, max_file_size=limit if editing.allowed else "1kb",
                               footer_links=[], css=CSS, ssr_mode=False)
