; Inno Setup script: per-user Windows installer of the AuditDesk bundle.
;
; Build on Windows, from the repository root (Python 3.11, Inno Setup 6):
;   py -3.11 -m venv build\venv
;   build\venv\Scripts\python -m pip install .[build]
;   build\venv\Scripts\python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller installer\auditdesk.spec
;   iscc installer\windows\auditdesk.iss          -> dist\AuditDesk-<version>-windows-x64-setup.exe
;
; The spec makes dist\AuditDesk\ with auditdesk.exe (console: CLI and --selftest),
; auditdesk-gui.exe (windowed: the Start-menu entry) and _internal\, and renders the icon to
; build\icons\auditdesk.ico. tests/test_installer.py checks every path below against the spec.
; No administrator rights are needed: it installs into the user's own Programs folder. The data
; folder (%LOCALAPPDATA%\AuditDesk: database, settings, logs) is not part of the install, so
; uninstalling keeps it and an upgrade finds it again (the database migrates at first start).

#define AppName "AuditDesk"
#define AppVersion "0.1.0"
#define BundleDir "..\..\dist\AuditDesk"
#define ExeName "auditdesk.exe"
#define GuiExeName "auditdesk-gui.exe"
#define ContentsDir "_internal"
#define IconFile "..\..\build\icons\auditdesk.ico"

[Setup]
AppId={{6B0E5C2A-3F1D-4A8E-9C57-1D2E4F6A8B90}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=AuditDesk team
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=AuditDesk-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#GuiExeName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the program files completely (no stale modules from the old version).
Type: filesandordirs; Name: "{app}\{#ContentsDir}"

[Files]
Source: "{#BundleDir}\{#ExeName}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\{#GuiExeName}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\{#ContentsDir}\*"; DestDir: "{app}\{#ContentsDir}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#GuiExeName}"; IconFilename: "{app}\{#GuiExeName}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#GuiExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#GuiExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
