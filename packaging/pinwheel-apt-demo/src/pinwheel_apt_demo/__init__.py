"""pinwheel-apt-demo: Debian version comparison through apt_pkg."""

__version__ = "0.0.0"
