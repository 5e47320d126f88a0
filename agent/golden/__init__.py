"""Golden questions over the demo MSP, their checkers and the eval runner."""
