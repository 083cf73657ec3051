"""Qt widgets for reading: worklist, viewers, hanging, the checklist form."""
