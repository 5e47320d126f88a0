"""mspilot.tools"""
