"""mspilot.core"""
