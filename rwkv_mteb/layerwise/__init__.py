"""Language models as sentence encoders, layer by layer: the sentence-transformers module, its variant axes
(poolings, prompts), and the session a sweep shares with its views."""
