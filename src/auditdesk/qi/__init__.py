"""The team leader's step: site settings, weekly sampling, the weekly measure, SPC
charts and their rules. No Qt."""
