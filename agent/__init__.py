"""mspilot.agent"""
