"""The merchandiser dashboard: server-rendered pages with inline SVG charts, English and French."""
