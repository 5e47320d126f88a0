"""mspilot.models"""
