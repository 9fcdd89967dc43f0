"""Reading pictures: LiteRT inference over the shipped networks, calibrated confidence, whole numbers."""
