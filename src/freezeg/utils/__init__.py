"""Small utilities every layer uses: atomic files, images and videos, packaged data files, ranges, devices."""
