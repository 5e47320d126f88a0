"""mspilot.synthetic"""
