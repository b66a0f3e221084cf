"""Contact: "will it hit?" A ball rolls towards a resting cube; the video is cut before the outcome."""
