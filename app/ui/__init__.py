"""The PySide6 desktop app: the only package that imports Qt.

- views (``sign_in``, ``interphone_list``, ``interphone_panel``, ``interphone_mix``,
  ``talk_button``, ``level_meter``, ``audio_bar``, ``main_window``, ``settings_dialog``,
  ``talk_key_edit``) emit intent signals and offer setters; they never import the client or
  audio code; ``view_types`` holds the plain values handed to them;
- ``presenter`` turns client-model events into view updates and view intents into client
  calls; ``preferences`` is the settings dialog's controller, ``sign_in_flow`` turns the
  sign-in dialog's request into a connected client;
- ``talk_key`` is push-to-talk with a key or mouse button held while a window has focus;
- ``audio_link`` is the UI's side of the audio engine (device choice, fallback, tones);
- ``settings`` declares every user setting once; ``i18n`` switches language; ``assets`` finds
  the bundled icons, clips and translations; ``platform_check`` is the self-test's Qt step;
  ``gui_thread_gc`` runs garbage collection on the GUI thread only;
- ``runtime`` owns the running pieces (client, audio engine, the demo of :mod:`app.demo`)
  and shuts them down cleanly;
- ``main`` parses the command line, picks the Qt platform and runs the loop of ``qt_loop``
  (qasync's, whose cancelled timers stop at once).
"""
