"""mspilot.prompts"""
