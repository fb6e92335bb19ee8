"""`freezeg serve`: a web page for translating images with a fine-tuned generator.

Three layers, so that the behaviour is tested without a browser or Gradio:
    uploads  what a visitor may upload: type and size checks, decoding
    studio   the models, one visitor's session state and every callback as a plain function
    page     the Gradio layout wiring those callbacks to widgets (the only module importing gradio)
"""
