"""The `freezeg serve` page: Gradio widgets wired to the Studio's callbacks (freezeg.app.studio).

This module only lays out the page and converts between widgets and the Studio's types; what
happens on each event is decided in studio.py. It is the only module of freezeg that imports
gradio (`pip install 'freezeg[app]'`).
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine

import gradio as gr

from ..stylize import StylizeOptions
from ..utils.memory import limit_arenas
from .studio import MAX_STYLE_STEPS, RenderSettings, Session, Studio

INTRO = """\
# freezeg: image translation with a fine-tuned StyleGAN2

**How it works.** Your image is first *reconstructed* by the **source** generator: freezeg searches
for the latent code that makes the source generator draw it (projection, a few seconds to minutes).
That same latent is then drawn by the fine-tuned **target** generator: the *translation*. A poor
reconstruction means an unreliable translation, so its quality is shown under the images.
Once a latent exists, every control below changes the translation at once, without projecting again.
"""

START = "Upload an image, drop a latent file (.pt), or pick a seed to start."

# Generators draw small images (32-256 px): show them large, with crisp pixels.
CSS = """
.pixelated img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain; }
#status { min-height: 1.5em; }
"""

ALIGN_HELP = ("for face models: find the face, then crop and level it the way FFHQ was made "
              "(off: a centred square); several faces: choose one under 'Face'")
PASTE_HELP = "also show the translated face in the whole photo (with 'Align faces'; full size under Downloads)"

PROJECTION_HELP = ("Projection finds the latent that makes the source generator draw your image. "
                   "More steps: closer, slower. W+ (one latent per layer) reaches images closer than W, "
                   "but its translations are noisier.")


def _settings(studio: Studio, data: dict, w: dict) -> RenderSettings:
    """The render settings from the values of the control widgets."""
    return RenderSettings(
        target=data[w["target"]],
        truncation=float(data[w["truncation"]]),
        style_strength=float(data[w["strength"]]),
        mix_from=data[w["mix_from"]],
        style_source="image" if data[w["style_source"]] == "style image" else "seed",
        style_seed=int(data[w["style_seed"]] or 0),
        blend=tuple(float(data[s]) for s in w["blend"]),
        paste_back=bool(data[w["paste_back"]]),
    )


def build_page(studio: Studio) -> gr.Blocks:
    """The whole page. Each browser tab gets its own Session (gr.State), removed when the tab closes."""
    mp4 = _has_mp4()
    no_align = studio.alignment_unavailable()  # None, or the line saying what the server lacks
    with gr.Blocks(title="freezeg", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        session = gr.State(None, delete_callback=studio.end_session)
        w: dict = {}
        gr.Markdown(INTRO)
        with gr.Row():
            w["target"] = gr.Dropdown(studio.target_labels, value=studio.target_labels[0], label="Target model",
                                      elem_id="target-model",
                                      info="the fine-tuned generator that draws the translation", scale=2)
            w["truncation"] = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Truncation",
                                        info="1: the latent as found; lower pulls it towards the average image "
                                             "(cleaner, less like yours)", scale=2)
        with gr.Accordion("Layer blend: source or target, block by block", open=False):
            gr.Markdown("Share of the target generator in each resolution block (1: the fine-tuned block, "
                        "0: the source's). Coarse blocks decide shape and layout, fine ones texture and colour. "
                        "As `freezeg blend`, computed on the fly.")
            with gr.Row():
                w["blend"] = [gr.Slider(0.0, 1.0, value=1.0, step=0.05, label=f"{r}px", min_width=100)
                              for r in studio.resolutions]

        with gr.Tabs():
            with gr.Tab("Translate"):
                with gr.Row():
                    with gr.Column(scale=2):
                        upload = gr.File(label="Image or latent file", file_count="single", type="filepath",
                                         height=120, elem_id="upload")
                        gr.Markdown(f"PNG, JPEG, WebP or BMP up to {studio.max_upload_mb:g} MB (cropped to a "
                                    f"centred square or to a face, resized to {studio.source.size} px), or a latent "
                                    "file (.pt) from `freezeg project`/`translate` or this page.")
                        with gr.Row():  # greyed out, saying what to install, where the align extra is missing
                            align_faces = gr.Checkbox(False, label="Align faces (FFHQ crop)", elem_id="align-faces",
                                                      interactive=no_align is None, info=no_align or ALIGN_HELP)
                            w["paste_back"] = gr.Checkbox(
                                False, label="Paste back into the photo", elem_id="paste-back",
                                interactive=no_align is None, info="needs 'Align faces'" if no_align else PASTE_HELP)
                        face_menu = gr.Dropdown([], label="Face", info="the photo has several faces: which one to "
                                                "translate (numbered left to right, as in the download names)",
                                                visible=False, elem_id="face-menu")
                    with gr.Column(scale=1):
                        seed = gr.Number(value=0, precision=0, minimum=0, label="...or a seed",
                                         info="a sample of the source generator")
                        use_seed = gr.Button("Use this seed")
                    with gr.Column(scale=1):
                        reproject = gr.Button("Project again", variant="secondary")
                        stop = gr.Button("Stop", variant="stop")
                        gr.Markdown("**Stop** ends a running projection and keeps the latent found so far.")
                status = gr.Markdown(START, elem_id="status")
                with gr.Row():
                    shown_input = gr.Image(label="Input", type="numpy", format="png", interactive=False,
                                           height=256, elem_classes="pixelated", elem_id="input-image")
                    reconstruction = gr.Image(label="Source reconstruction", type="numpy", format="png",
                                              interactive=False, height=256, elem_classes="pixelated",
                                              elem_id="reconstruction-image")
                    translation = gr.Image(label="Translation", type="numpy", format="png", interactive=False,
                                           height=256, elem_classes="pixelated", elem_id="translation-image")
                pasted = gr.Image(label="Pasted back into the photo", type="numpy", format="jpeg", interactive=False,
                                  height=420, visible=False, elem_id="pasted-image")
                report = gr.Markdown(elem_id="report")
                downloads = gr.File(label="Downloads: translation, panel, latent (and the pasted photo)",
                                    file_count="multiple", interactive=False, elem_id="downloads")
                with gr.Accordion("Style mixing", open=True):
                    gr.Markdown("Keep your image's coarse layers and take the finer ones from a style: "
                                "a seed, or a style image of your own (projected like the input).")
                    with gr.Row():
                        w["strength"] = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Style strength",
                                                  info="0: no style; 1: the style's latents outright",
                                                  elem_id="style-strength")
                        w["mix_from"] = gr.Dropdown(studio.mix_choices(), value=studio.default_mix_from(),
                                                    label="Style from resolution",
                                                    info="this block and all finer ones take the style")
                    with gr.Row():
                        w["style_source"] = gr.Radio(["seed", "style image"], value="seed", label="Style source")
                        w["style_seed"] = gr.Number(value=0, precision=0, minimum=0, label="Style seed")
                        style_upload = gr.File(label="Style image", file_count="single", type="filepath",
                                               height=120, elem_id="style-upload")
                with gr.Accordion("Projection settings (for the next upload or 'Project again')", open=False):
                    gr.Markdown(PROJECTION_HELP)
                    with gr.Row():
                        steps = gr.Slider(10, 3000, value=studio.inversion.options.steps, step=10,
                                          label="Steps", info="optimisation steps", elem_id="projection-steps")
                        space = gr.Radio(["w", "w+"], value=studio.inversion.options.space, label="Latent space")

            with gr.Tab("New style"):
                gr.Markdown("A new target model from 1 to 10 pictures of one style (`freezeg stylize`): each "
                            "picture is projected, then the fine blocks of a copy of the source generator learn to "
                            "draw them while its coarse blocks stay frozen. The style is yours alone and lasts "
                            "while this page is open; choose it as the target model above, then translate.")
                with gr.Row():
                    style_refs = gr.File(label="Style pictures (1 to 10)", file_count="multiple", type="filepath",
                                         height=120, elem_id="style-refs")
                    with gr.Column():
                        style_steps = gr.Slider(10, MAX_STYLE_STEPS, value=StylizeOptions.steps, step=10,
                                                label="Steps", info="few-shot fine-tuning steps")
                        make_style = gr.Button("Make style", variant="primary", elem_id="make-style")
                style_grid = gr.Image(label="Samples: source above, the new style below", interactive=False,
                                      height=240, elem_classes="pixelated", elem_id="style-grid")
                style_status = gr.Markdown(elem_id="style-status")

            with gr.Tab("Pairs"):
                gr.Markdown("The same random latents through both generators: source above, target below. "
                            "Uses the target model, truncation and layer blend chosen above.")
                with gr.Row():
                    pair_seeds = gr.Textbox("0-7", label="Seeds", info="e.g. 0-7 or 1,5,9 (at most 64)")
                    draw_pairs = gr.Button("Draw pairs", variant="primary")
                pairs_image = gr.Image(label="Pairs", type="numpy", format="png", interactive=False, height=360,
                                       elem_classes="pixelated", elem_id="pairs-image")
                pairs_file = gr.File(label="Download", interactive=False)
                pairs_status = gr.Markdown()

            with gr.Tab("Interpolation"):
                gr.Markdown("A looping walk through latents, source and target side by side. "
                            "Uses the target model, truncation and layer blend chosen above.")
                with gr.Row():
                    loop_seeds = gr.Textbox("1,5,9", label="Seeds", info="the latents the loop passes through")
                    with_latent = gr.Checkbox(False, label="Start from my image",
                                              info="the latent from the Translate tab comes first")
                with gr.Row():
                    frames = gr.Slider(8, 240, value=48, step=1, label="Frames")
                    fps = gr.Slider(1, 60, value=16, step=1, label="Frames per second")
                    formats = ["GIF", "MP4"] if mp4 else ["GIF"]
                    fmt = gr.Radio(formats, value="GIF", label="Format",
                                   info=None if mp4 else "MP4 needs imageio-ffmpeg: pip install 'freezeg[video]'")
                make_loop = gr.Button("Make animation", variant="primary")
                loop_gif = gr.Image(label="Animation", type="filepath", interactive=False, height=300,
                                    elem_classes="pixelated", elem_id="loop-gif")
                loop_video = gr.Video(label="Animation", interactive=False, visible=False, height=300)
                loop_file = gr.File(label="Download", interactive=False)
                loop_status = gr.Markdown()

        controls = [w["target"], w["truncation"], w["strength"], w["mix_from"], w["style_source"], w["style_seed"],
                    *w["blend"], w["paste_back"]]
        view_outputs = [shown_input, reconstruction, translation, pasted, report, downloads]

        def view_update(s: Session, settings: RenderSettings) -> dict:
            v = studio.rerender(s, settings)
            if v is None:
                return {}
            return {shown_input: v.input, reconstruction: v.reconstruction, translation: v.translation,
                    pasted: gr.update(value=v.pasted, visible=v.pasted is not None), report: v.report,
                    downloads: v.files}

        def faces_update(s: Session) -> dict:
            """The Face menu: shown when the session's aligned photo has several faces."""
            choices = studio.face_choices(s)
            return gr.update(choices=choices, value=s.face if choices else None, visible=len(choices) > 1)

        def failed(e: Exception, where=status) -> dict:
            gr.Warning(str(e))
            return {where: f"**Error**: {e}"}

        def stop_check(request: gr.Request):
            key = request.session_hash
            studio.stops.clear(key)
            return lambda: studio.stops.is_set(key)

        def reporter(progress: gr.Progress):
            return lambda fraction, text: progress(fraction, desc=text)

        def projection_options(data: dict) -> dict:
            return {"steps": int(data[steps]), "space": data[space]}

        # ---------------------------------------------------------------- events
        def change_session(data: dict, change, message=None) -> dict:
            """Apply `change` (Session -> Session) to this visitor's session and show the result."""
            s = data[session] or studio.new_session()
            try:
                s = change(s)
                out = view_update(s, _settings(studio, data, w))
            except (ValueError, OSError) as e:
                return failed(e)
            return {session: s, status: (message or _done)(s), face_menu: faces_update(s), **out}

        def new_input(data: dict, request: gr.Request, progress, prepare, undo: dict | None = None):
            """Make the session's input with `prepare` (Session -> Session), show it, and project it (an image)."""
            s = data[session] or studio.new_session()
            try:
                s = prepare(s)
                if s.latent is None:  # an image: show it at once, then project it
                    yield {session: s, shown_input: s.input, reconstruction: None, translation: None, report: "",
                           pasted: gr.update(value=None, visible=False), downloads: None, face_menu: faces_update(s),
                           status: "Projecting with the source generator... (Stop keeps the latent found so far)"}
                    s = studio.project(s, reporter(progress), stop_check(request), **projection_options(data))
                out = view_update(s, _settings(studio, data, w))
            except (ValueError, OSError) as e:
                yield {**failed(e), **(undo or {})}
                return
            yield {session: s, status: _done(s), face_menu: faces_update(s), **out}

        def on_upload(data: dict, request: gr.Request, progress=gr.Progress()):
            path = data[upload]
            if not path:  # the file was removed from the box: keep what is shown (see on_face)
                yield {}
                return
            yield from new_input(data, request, progress,
                                 lambda s: studio.receive_upload(s, path, bool(data[align_faces])))

        def on_align(data: dict, request: gr.Request, progress=gr.Progress()):
            """Align faces ticked or unticked: the photo held is cropped again and projected."""
            on = bool(data[align_faces])
            if data[session] is None or data[session].photo is None:
                yield {status: "Faces will be aligned in the next photo you upload." if on
                       else "The next photo you upload will be cropped to a centred square."}
                return
            yield from new_input(data, request, progress, lambda s: studio.prepare_input(s, on),
                                 undo={align_faces: not on})  # no face: the box unticks again

        def on_face(data: dict, request: gr.Request, progress=gr.Progress()):
            choice, held = data[face_menu], data[session]
            if choice is None or (held is not None and held.face == int(choice) and held.latent is not None):
                # Nothing chosen, or the face already translated (the menu can fire again for the
                # value the page set itself). Yield an empty update: a generator that ends without
                # yielding makes Gradio send None to every output, which blanked the status and
                # report in the browser test now and then.
                yield {}
                return
            yield from new_input(data, request, progress, lambda s: studio.prepare_input(s, True, int(choice)))

        def on_reproject(data: dict, request: gr.Request, progress=gr.Progress()):
            if data[session] is None or data[session].input is None:
                return {status: "Nothing to project yet: upload an image first."}
            return change_session(data, lambda s: studio.project(s, reporter(progress), stop_check(request),
                                                                 **projection_options(data)))

        def on_seed(data: dict):
            return change_session(data, lambda s: studio.use_seed(s, data[seed] or 0))

        def on_style_upload(data: dict, request: gr.Request, progress=gr.Progress()):
            path = data[style_upload]
            if not path:
                return {}
            return change_session(
                data, lambda s: studio.open_style_image(s, path, reporter(progress), stop_check(request),
                                                        **projection_options(data),
                                                        align_faces=bool(data[align_faces])),
                lambda s: f"Style image {s.style_name} projected: choose 'style image' as the style source "
                          "and raise the style strength.")

        def on_render(data: dict):
            try:
                # Nothing to render yet: an empty dict would read as one output value, so name one.
                return view_update(data[session], _settings(studio, data, w)) or {status: gr.update()}
            except (ValueError, OSError) as e:
                return failed(e)

        def on_stop(request: gr.Request):
            studio.stops.request(request.session_hash)

        def on_pairs(data: dict):
            s = data[session] or studio.new_session()
            try:
                grid, path = studio.pairs(s, _settings(studio, data, w), data[pair_seeds])
            except (ValueError, OSError) as e:
                return failed(e, pairs_status)
            return {session: s, pairs_image: grid, pairs_file: path, pairs_status: ""}

        def on_loop(data: dict, progress=gr.Progress()):
            s = data[session] or studio.new_session()
            progress(0.0, desc="rendering frames")
            try:
                path = studio.interpolation(s, _settings(studio, data, w), data[loop_seeds], data[frames], data[fps],
                                            data[fmt].lower(), bool(data[with_latent]))
            except (ValueError, OSError) as e:
                return failed(e, loop_status)
            gif = path.endswith(".gif")
            return {session: s, loop_gif: gr.update(value=path if gif else None, visible=gif),
                    loop_video: gr.update(value=None if gif else path, visible=not gif),
                    loop_file: path, loop_status: ""}

        everything = {session, upload, seed, style_upload, steps, space, align_faces, face_menu, *controls}
        translate_outputs = [session, status, face_menu, align_faces, *view_outputs]
        upload.upload(on_upload, everything, translate_outputs, concurrency_id="projection", api_visibility="private")
        align_faces.input(on_align, everything, translate_outputs, concurrency_id="projection", api_visibility="private")
        face_menu.input(on_face, everything, translate_outputs, concurrency_id="projection", api_visibility="private")
        reproject.click(on_reproject, everything, translate_outputs, concurrency_id="projection", api_visibility="private")
        style_upload.upload(on_style_upload, everything, translate_outputs, concurrency_id="projection", api_visibility="private")
        stop.click(on_stop, None, None, queue=False, api_visibility="private")
        use_seed.click(on_seed, everything, translate_outputs, concurrency_id="render", api_visibility="private")
        seed.submit(on_seed, everything, translate_outputs, concurrency_id="render", api_visibility="private")
        for control in controls:
            control.change(on_render, everything, [status, *view_outputs], concurrency_id="render",
                           show_progress="hidden", api_visibility="private")
        draw_pairs.click(on_pairs, everything | {pair_seeds}, [session, pairs_image, pairs_file, pairs_status],
                         concurrency_id="render", api_visibility="private")
        make_loop.click(on_loop, everything | {loop_seeds, with_latent, frames, fps, fmt},
                        [session, loop_gif, loop_video, loop_file, loop_status], concurrency_id="render",
                        api_visibility="private")
        def on_new_style(data: dict, request: gr.Request):
            s = data[session] or studio.new_session()
            try:
                for s, grid, message in studio.new_style(s, data[style_refs], data[style_steps], stop_check(request)):
                    yield {style_grid: grid, style_status: message}
            except (ValueError, OSError) as e:
                yield failed(e, style_status)
                return
            yield {session: s, style_status: message,
                   w["target"]: gr.update(choices=[*studio.target_labels, *s.styles])}

        make_style.click(on_new_style, everything | {style_refs, style_steps},
                         [session, style_grid, style_status, w["target"]], concurrency_id="projection",
                         api_visibility="private")
        add_program_api(studio, reporter, stop_check)

        def on_leave(request: gr.Request):
            studio.stops.forget(request.session_hash)

        page.unload(on_leave)
    return page


def add_program_api(studio: Studio, reporter, stop_check) -> None:
    """The endpoints programs call (gradio_client): /translate, /render and /pairs, on components
    the page does not show. Every event of the page itself keeps its API private."""
    with gr.Column(visible=False):
        image_in = gr.File(file_count="single", type="filepath", label="image")
        translation = gr.Image(type="numpy", format="png", label="translation")
        reconstruction = gr.Image(type="numpy", format="png", label="reconstruction")
        psnr = gr.Number(label="reconstruction PSNR (dB)")
        seed = gr.Number(0, precision=0, label="seed")
        truncation = gr.Number(1.0, label="truncation")
        target = gr.Textbox("", label="target (empty: the first)")
        seeds = gr.Textbox("0-7", label="seeds")
        source_image = gr.Image(type="numpy", format="png", label="source")
        target_image = gr.Image(type="numpy", format="png", label="target")
        grid = gr.Image(type="numpy", format="png", label="pairs")

    # Errors are raised outside the except blocks: a chained gr.Error makes the server log a
    # traceback for every refused upload.
    def translate(path, request: gr.Request, progress=gr.Progress()):
        if not path:
            raise gr.Error("give one image file")
        try:
            return studio.api_translate(path, reporter(progress), stop_check(request))
        except (ValueError, OSError) as e:
            message = str(e)
        raise gr.Error(message)

    def render(seed_value, truncation_value, target_label):
        try:
            return studio.api_render(int(seed_value or 0), float(truncation_value), target_label)
        except (ValueError, OSError) as e:
            message = str(e)
        raise gr.Error(message)

    def pairs(seed_text, truncation_value, target_label):
        try:
            return studio.api_pairs(seed_text, float(truncation_value), target_label)
        except (ValueError, OSError) as e:
            message = str(e)
        raise gr.Error(message)

    image_in.change(translate, image_in, [translation, reconstruction, psnr], api_name="translate",
                    concurrency_id="projection", api_visibility="public")
    seed.change(render, [seed, truncation, target], [source_image, target_image], api_name="render",
                concurrency_id="render", api_visibility="public")
    seeds.change(pairs, [seeds, truncation, target], grid, api_name="pairs", concurrency_id="render",
                 api_visibility="public")


def _done(s: Session) -> str:
    if s.stopped:
        return f"Projection {s.stopped}: showing the latent found so far. 'Project again' starts over."
    return {"image": "Projected and translated. Move any control to re-render.",
            "latent": "Latent file loaded and translated. Move any control to re-render.",
            "seed": "Seed sampled and translated. Move any control to re-render."}.get(s.origin, "")


def _has_mp4() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def launch(studio: Studio, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    """Serve the page; blocks until Ctrl-C unless `block` is False (tests)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up checks
    limit_arenas()  # before Gradio's worker threads exist (freezeg.utils.memory)
    page = build_page(studio)
    page.queue(default_concurrency_limit=1)
    page.launch(server_name=host, server_port=port, max_file_size=f"{studio.max_upload_mb:g}mb",
                allowed_paths=[str(studio.work_dir)], ssr_mode=False, show_error=True, quiet=True,
                prevent_thread_lock=not block, css=CSS, inbrowser=False, share=False,
                footer_links=["gradio", "settings"])
    return page
