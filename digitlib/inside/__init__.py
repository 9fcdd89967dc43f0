"""Explaining the network: saliency, layer activations, and the what-if playground."""
