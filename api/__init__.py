"""mspilot.api"""
