"""The main window's panels; each can be opened on its own for a quick look."""
