"""Query and retrieve from a PACS (issue 19): DIMSE (C-ECHO, C-FIND, C-GET, C-MOVE with our own
storage SCP) through pynetdicom, and DICOMweb (QIDO-RS, WADO-RS) through dicomweb-client.

``nodes`` stores the connection settings, ``query`` finds studies, ``retrieve`` brings their
files into the data folder and indexes them like ``auditdesk import``. No Qt here.
"""
