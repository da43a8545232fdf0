"""The PySide6 desktop app: the only package that imports Qt.

- views (``sign_in``, ``interphone_list``, ``interphone_panel``, ``talk_button``,
  ``level_meter``, ``audio_bar``, ``main_window``, ``settings_dialog``) emit
  intent signals and offer setters; they never import the client or audio code;
- ``presenter`` turns client-model events into view updates and view intents
  into client calls;
- ``runtime`` owns the running pieces (client, audio engine, the demo of
  :mod:`app.demo`) and shuts them down cleanly;
- ``main`` parses the command line, picks the Qt platform and runs the qasync loop.
"""
