; Inno Setup script for Interphone; driven by packaging\build_windows.ps1, which
; passes AppVersion, SourceDir (the PyInstaller bundle), OutputDir and IconFile.
; UNTESTED: written for Inno Setup 6.3 or later (x64compatible), not compiled yet.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\Interphone"
#endif
#ifndef OutputDir
  #define OutputDir "..\dist"
#endif
#ifndef IconFile
  #define IconFile "icons\interphone.ico"
#endif

[Setup]
AppId={{6F4E2A57-3C1B-4D8E-9A0F-1B2C3D4E5F60}
AppName=Interphone
AppVersion={#AppVersion}
AppPublisher=Interphone developers
DefaultDirName={autopf}\Interphone
DefaultGroupName=Interphone
DisableProgramGroupPage=yes
PrivilegesRequiredOverridesAllowed=dialog
OutputDir={#OutputDir}
OutputBaseFilename=Interphone-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\Interphone.exe
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Interphone"; Filename: "{app}\Interphone.exe"
Name: "{autodesktop}\Interphone"; Filename: "{app}\Interphone.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\Interphone.exe"; Description: "{cm:LaunchProgram,Interphone}"; Flags: nowait postinstall skipifsilent
