package pytags

// The platform-tag logic below is a port of packaging 24.1 (the copy pip 24.2 vendors as
// pip/_vendor/packaging): tags.mac_platforms, tags._mac_binary_formats,
// tags._linux_platforms and _manylinux.platform_tags. It is hand-written because no Go
// library computes packaging's tag order, and packaging's functions probe the running
// machine (glibc version, ELF header, platform.mac_ver) where we need a target machine.
//
// packaging's main branch has since changed two details pip releases do not have yet:
// linux_<arch> moves before the manylinux tags (packaging 26.3) and the macOS "fat32"
// format becomes "fat3". Neither changes which PyPI wheel wins for our targets, since
// PyPI accepts no linux_* wheels and fat32/fat3 wheels predate the supported CPythons.

import (
	"fmt"
)

// Platform describes target machines: the oldest glibc (linux) or macOS version they run.
// Only the field of OS is read: Glibc for linux, MacOS for darwin.
type Platform struct {
	OS    string // "linux" or "darwin" (GOOS spelling)
	Arch  string // "amd64" or "arm64" (GOARCH spelling)
	Glibc [2]int // linux: newest manylinux glibc accepted, e.g. {2, 28}
	MacOS [2]int // darwin: deployment target, e.g. {13, 0}
}

// Release defaults: glibc 2.28 covers RHEL/Alma/Rocky 8, Debian 10, Ubuntu 18.10 and
// newer (and is manylinux_2_28, the newest manylinux image wheels are commonly built on);
// macOS 13 Ventura is the oldest release Apple still patched when this was written.
var (
	defaultGlibc = [2]int{2, 28}
	defaultMacOS = [2]int{13, 0}
)

// DefaultPlatform returns the platform releases target: linux glibc 2.28 (RHEL 8, Debian 10 and newer), macOS 13.0.
func DefaultPlatform(goos, goarch string) (Platform, error) {
	p := Platform{OS: goos, Arch: goarch}
	switch goos {
	case "linux":
		p.Glibc = defaultGlibc
	case "darwin":
		p.MacOS = defaultMacOS
	}
	if err := p.Validate(); err != nil {
		return Platform{}, err
	}
	return p, nil
}

// String renders the platform for messages, such as "linux/arm64 glibc 2.28".
func (p Platform) String() string {
	switch p.OS {
	case "linux":
		return fmt.Sprintf("linux/%s glibc %d.%d", p.Arch, p.Glibc[0], p.Glibc[1])
	case "darwin":
		return fmt.Sprintf("darwin/%s macOS %d.%d", p.Arch, p.MacOS[0], p.MacOS[1])
	}
	return p.OS + "/" + p.Arch
}

// ArchName maps GOARCH to the wheel spelling per OS: linux amd64->x86_64, arm64->aarch64; darwin amd64->x86_64, arm64->arm64.
func ArchName(goos, goarch string) (string, error) {
	switch goos {
	case "linux", "darwin":
	default:
		return "", fmt.Errorf("target OS %q is not supported: use linux or darwin", goos)
	}
	switch goarch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		if goos == "darwin" {
			return "arm64", nil
		}
		return "aarch64", nil
	}
	return "", fmt.Errorf("target architecture %q is not supported: use amd64 or arm64", goarch)
}

// Validate reports whether packaging could produce a meaningful tag list for p.
func (p Platform) Validate() error {
	arch, err := ArchName(p.OS, p.Arch)
	if err != nil {
		return err
	}
	switch p.OS {
	case "linux":
		// packaging stops at manylinux_2_5 on x86 and at manylinux_2_17 elsewhere
		// (_manylinux.platform_tags' too_old_glibc2); below that it yields no manylinux
		// tag at all, which is surely a typo rather than an intent.
		oldest := [2]int{2, 17}
		if arch == "x86_64" {
			oldest = [2]int{2, 5}
		}
		if less(p.Glibc, oldest) {
			return fmt.Errorf("%s: glibc %d.%d is older than manylinux supports on %s: use %d.%d or newer",
				p, p.Glibc[0], p.Glibc[1], arch, oldest[0], oldest[1])
		}
	case "darwin":
		// Apple Silicon started with macOS 11; x86_64 wheel formats start at 10.4
		// (_mac_binary_formats); 10.16 is the last 10.x number (what 11.0 reports in
		// compatibility mode).
		oldest := [2]int{10, 4}
		if arch == "arm64" {
			oldest = [2]int{11, 0}
		}
		if less(p.MacOS, oldest) {
			return fmt.Errorf("%s: macOS %d.%d is older than %s supports: use %d.%d or newer",
				p, p.MacOS[0], p.MacOS[1], arch, oldest[0], oldest[1])
		}
		if p.MacOS[0] == 10 && p.MacOS[1] > 16 {
			return fmt.Errorf("%s: macOS 10.%d does not exist (10.16 is the last 10.x): use 11.0 or newer", p, p.MacOS[1])
		}
	}
	return nil
}

func less(a, b [2]int) bool {
	return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])
}

// PlatformTags returns the platform tags in packaging's order: on linux manylinux_2_{glibc}_…
// down to manylinux_2_5 (x86_64) or manylinux_2_17 (aarch64, which has no manylinux2010 or
// manylinux1) with the legacy aliases right after their PEP 600 name (manylinux2014 after
// 2_17, manylinux2010 after 2_12, manylinux1 after 2_5) exactly as
// packaging._manylinux.platform_tags yields them, then linux_<arch>; on darwin what
// packaging.tags.mac_platforms(version, arch) yields (including the universal2, intel,
// fat64, fat32 and universal variants it adds for x86_64, and universal2 back to 10.4 for
// arm64).
//
// musllinux tags are never included: packaging yields them only on musl systems, and the
// targets are glibc systems. It panics if p is invalid (see Validate); platforms from
// DefaultPlatform are always valid.
func (p Platform) PlatformTags() []string {
	if err := p.Validate(); err != nil {
		panic("pytags: " + err.Error())
	}
	arch, _ := ArchName(p.OS, p.Arch)
	if p.OS == "darwin" {
		return macPlatforms(p.MacOS, arch)
	}
	tags := manylinuxPlatforms(p.Glibc, arch)
	return append(tags, "linux_"+arch)
}

// lastGlibcMinor is packaging's _LAST_GLIBC_MINOR: the last minor of a glibc major that
// has been superseded. glibc 3 does not exist, so packaging guesses 50 for every major.
const lastGlibcMinor = 50

// legacyManylinux is packaging's _LEGACY_MANYLINUX_MAP.
var legacyManylinux = map[[2]int]string{
	{2, 17}: "manylinux2014", // CentOS 7, PEP 599
	{2, 12}: "manylinux2010", // CentOS 6, PEP 571
	{2, 5}:  "manylinux1",    // CentOS 5, PEP 513
}

// manylinuxPlatforms ports _manylinux.platform_tags for one arch with the machine probes
// (_get_glibc_version, _is_compatible, _have_compatible_abi) answered for the target:
// its glibc is glibc and every manylinux tag up to it is compatible.
func manylinuxPlatforms(glibc [2]int, arch string) []string {
	tooOld := [2]int{2, 16}
	if arch == "x86_64" || arch == "i686" {
		tooOld = [2]int{2, 4}
	}
	maxList := [][2]int{glibc}
	for major := glibc[0] - 1; major > 1; major-- {
		maxList = append(maxList, [2]int{major, lastGlibcMinor})
	}
	var tags []string
	for _, top := range maxList {
		minMinor := -1 // other glibc majors go down to (x, 0)
		if top[0] == tooOld[0] {
			minMinor = tooOld[1]
		}
		for minor := top[1]; minor > minMinor; minor-- {
			tags = append(tags, fmt.Sprintf("manylinux_%d_%d_%s", top[0], minor, arch))
			if legacy, ok := legacyManylinux[[2]int{top[0], minor}]; ok {
				tags = append(tags, legacy+"_"+arch)
			}
		}
	}
	return tags
}

// macBinaryFormats ports tags._mac_binary_formats.
func macBinaryFormats(version [2]int, arch string) []string {
	formats := []string{arch}
	switch arch {
	case "x86_64":
		if less(version, [2]int{10, 4}) {
			return nil
		}
		formats = append(formats, "intel", "fat64", "fat32")
	case "i386":
		if less(version, [2]int{10, 4}) {
			return nil
		}
		formats = append(formats, "intel", "fat32", "fat")
	case "ppc64":
		if less([2]int{10, 5}, version) || less(version, [2]int{10, 4}) {
			return nil
		}
		formats = append(formats, "fat64")
	case "ppc":
		if less([2]int{10, 6}, version) {
			return nil
		}
		formats = append(formats, "fat32", "fat")
	}
	switch arch {
	case "arm64", "x86_64":
		formats = append(formats, "universal2")
	}
	switch arch {
	case "x86_64", "i386", "ppc64", "ppc", "intel":
		formats = append(formats, "universal")
	}
	return formats
}

// macPlatforms ports tags.mac_platforms(version, arch) with both arguments given.
func macPlatforms(version [2]int, arch string) []string {
	var tags []string
	add := func(major, minor int, format string) {
		tags = append(tags, fmt.Sprintf("macosx_%d_%d_%s", major, minor, format))
	}
	if !less(version, [2]int{10, 0}) && less(version, [2]int{11, 0}) {
		// Before macOS 11 every yearly release bumped the minor number.
		for minor := version[1]; minor >= 0; minor-- {
			for _, f := range macBinaryFormats([2]int{10, minor}, arch) {
				add(10, minor, f)
			}
		}
	}
	if !less(version, [2]int{11, 0}) {
		// From macOS 11 on every yearly release bumps the major number; packaging
		// ignores the minor (midyear updates) here.
		for major := version[0]; major > 10; major-- {
			for _, f := range macBinaryFormats([2]int{major, 0}, arch) {
				add(major, 0, f)
			}
		}
		// macOS 11+ on x86_64 runs binaries built for 10.x; arm64 only runs the
		// universal2 ones, whose x86_64 half may target 10.x.
		for minor := 16; minor > 3; minor-- {
			if arch == "x86_64" {
				for _, f := range macBinaryFormats([2]int{10, minor}, arch) {
					add(10, minor, f)
				}
			} else {
				add(10, minor, "universal2")
			}
		}
	}
	return tags
}
