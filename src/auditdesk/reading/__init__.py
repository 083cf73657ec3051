"""The technologist's step: worklist, hanging protocols, MR layout, window presets,
the reading session (auditing) and measurements on the image. No Qt."""
