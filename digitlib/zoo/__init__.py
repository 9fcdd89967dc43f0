"""The model zoo: one registry of architectures and training presets, and the Keras builders."""
