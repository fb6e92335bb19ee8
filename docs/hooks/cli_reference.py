"""MkDocs hook: replace the marker in cli.md with the reference generated from freezeg's parsers."""

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    from freezeg.cli.reference import cli_reference

    return markdown.replace(MARKER, cli_reference())
