"""Views: how results and events are shown. The only layer that may know about a terminal."""
