# Build the Windows one-folder bundle dist\Interphone, then an Inno Setup
# installer (when ISCC.exe is found) or else a zip.
#
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 [-Venv DIR] [-Dist DIR] [-BundleOnly] [-SelfTest]
#
# UNTESTED ON WINDOWS: written to mirror build_linux.sh, which is what CI runs.
# Needs Python 3.11+ (the py launcher or python on PATH). libopus comes from the
# opuslib-next-bundled wheel (opus.dll, fetched with pip) unless
# INTERPHONE_LIBOPUS names a DLL; PortAudio comes with sounddevice's wheel.
# Both end up inside the bundle; the machines that run it need neither.
param(
    [string]$Venv = "build\venv-pack",
    [string]$Dist = "dist",
    [string]$Work = "build\pyinstaller",
    [switch]$BundleOnly,
    [switch]$SelfTest
)
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
function Say([string]$Message) { Write-Host "[package] $Message" }
function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Version = (Select-String -Path "app\__init__.py" -Pattern '^__version__ = "(.*)"').Matches[0].Groups[1].Value
$Started = Get-Date

# 1. The build venv: the app's dependencies plus PyInstaller, from pyproject.toml.
$Python = Join-Path $Venv "Scripts\python.exe"
if (-not (Test-Path $Python)) {
    Say "creating build venv $Venv"
    if (Get-Command py -ErrorAction SilentlyContinue) { Invoke-Checked "py" @("-3.11", "-m", "venv", $Venv) }
    else { Invoke-Checked "python" @("-m", "venv", $Venv) }
}
Say "installing the project with its packaging extra into $Venv"
Invoke-Checked $Python @("-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", "requirements/constraints.txt", "-e", ".[packaging]")

# 2. libopus: opus.dll from the opuslib-next-bundled wheel for this platform.
if (-not $env:INTERPHONE_LIBOPUS) {
    $WheelDir = "build\opus-wheel"
    if (Test-Path $WheelDir) { Remove-Item -Recurse -Force $WheelDir }
    Invoke-Checked $Python @("-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
        "--only-binary=:all:", "--platform", "win_amd64", "-d", $WheelDir, "opuslib-next-bundled>=0.1,<1")
    $Wheel = Get-ChildItem "$WheelDir\*.whl" | Select-Object -First 1
    Invoke-Checked $Python @("-c",
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('opuslib_next/_native/opus.dll', sys.argv[2])",
        $Wheel.FullName, $WheelDir)
    $env:INTERPHONE_LIBOPUS = (Resolve-Path "$WheelDir\opuslib_next\_native\opus.dll").Path
}
Say "libopus: $env:INTERPHONE_LIBOPUS"

# 3. The bundle.
Say "running PyInstaller"
$Bundle = Join-Path $Dist "Interphone"
if (Test-Path $Bundle) { Remove-Item -Recurse -Force $Bundle }
if (Test-Path "$Work\interphone") { Remove-Item -Recurse -Force "$Work\interphone" }
Invoke-Checked $Python @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
    "--distpath", $Dist, "--workpath", $Work, "packaging\interphone.spec")
$SizeMiB = [math]::Round(((Get-ChildItem -Recurse -File $Bundle | Measure-Object Length -Sum).Sum) / 1MB)
Say "bundle: $Bundle ($SizeMiB MiB)"

if ($SelfTest) {
    # A windowed exe has no console: the verdict goes to INTERPHONE_SELFTEST_LOG.
    $Log = Join-Path $env:TEMP "interphone-selftest.log"
    $env:INTERPHONE_SELFTEST_LOG = $Log
    $env:QT_QPA_PLATFORM = "offscreen"
    $Process = Start-Process -FilePath (Join-Path $Bundle "Interphone.exe") -ArgumentList "--self-test" `
        -Wait -PassThru -NoNewWindow
    Get-Content $Log
    Remove-Item Env:\INTERPHONE_SELFTEST_LOG, Env:\QT_QPA_PLATFORM
    if ($Process.ExitCode -ne 0) { throw "self-test failed (exit code $($Process.ExitCode))" }
}
if ($BundleOnly) { exit 0 }

# 4. Installer: Inno Setup when available, else a zip of the bundle.
$Iscc = Get-Command iscc -ErrorAction SilentlyContinue
if (-not $Iscc) {
    foreach ($Candidate in @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
                             "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")) {
        if (Test-Path $Candidate) { $Iscc = Get-Item $Candidate; break }
    }
}
if ($Iscc) {
    $IsccPath = if ($Iscc -is [System.Management.Automation.CommandInfo]) { $Iscc.Source } else { $Iscc.FullName }
    Invoke-Checked $IsccPath @("/Q", "/DAppVersion=$Version", "/DSourceDir=$((Resolve-Path $Bundle).Path)",
        "/DOutputDir=$((Resolve-Path $Dist).Path)", "/DIconFile=$Root\packaging\icons\interphone.ico",
        "packaging\interphone.iss")
    Say "installer: $Dist\Interphone-$Version-windows-x64-setup.exe"
} else {
    $Zip = Join-Path $Dist "Interphone-$Version-windows-x64.zip"
    if (Test-Path $Zip) { Remove-Item -Force $Zip }
    Compress-Archive -Path $Bundle -DestinationPath $Zip
    Say "Inno Setup (iscc) not found: zip $Zip"
}
Say ("done in {0:N0} s" -f ((Get-Date) - $Started).TotalSeconds)
