"""mspilot.cli"""
