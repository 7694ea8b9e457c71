#!/usr/bin/env bash
# Compile what htier adds to or changes in Linux under a distribution's
# configuration, without building the whole kernel: every .c file of the
# overlays (guest-mm/, hballoon/) and every .c file a hook patch touches that
# the configuration builds; then check that each of them that is a module
# uses only symbols the kernel exports (Debian's Module.symvers of the same
# release, plus what the patched tree exports), as modpost would at link.
#
#   check-tenant-objects.sh TREE OBJ MODULE_SYMVERS MAKE-COMMAND...
#
# Called by build-kernel.sh tenant-objects with TREE and OBJ configured.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$1 obj=$2 symvers=$3
shift 3
kmake=("$@")
die() { echo "check-tenant-objects: error: $*" >&2; exit 1; }

# The .c files: overlay files, and those the series' patches touch.
mapfile -t sources < <( {
	for d in guest-mm hballoon; do
		(cd "$top/$d" && git ls-files --cached --others --exclude-standard '*.c' 2>/dev/null ||
			find . -name '*.c' | sed 's|^\./||')
	done
	sed -n 's|^+++ b/\(.*\.c\)$|\1|p' "$top"/guest-mm/patches/*.patch
} | grep -vE '^(tools|scripts|samples)/' | sort -u)

# makefile_of DIR: DIR's Makefile (or Kbuild) with continuation lines joined.
makefile_of() {
	local f=$tree/$1/Makefile
	[ -f "$tree/$1/Kbuild" ] && f=$tree/$1/Kbuild
	[ -f "$f" ] && sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$f"
}

# value SYM: y, m or empty, as SYM is set in the configuration.
value() { sed -n "s/^$1=//p" "$obj/.config"; }

# config_of DIR NAME: how DIR's Makefile builds NAME (an object, or a
# subdirectory with a trailing /): y, m, empty (not configured) or "?"
# (not found), taking the directories above into account.
config_of() {
	local dir=$1 name=$2 line v comp
	line=$(makefile_of "$dir" | grep -E "^[[:space:]]*obj-(\\\$\(CONFIG_[A-Z0-9_]+\)|y)[[:space:]]*[+:]?=(.*[[:space:]])?$name([[:space:]]|$)" | head -1 || true)
	if [ -z "$line" ]; then
		# Part of a composite object (foo-y += name.o): foo.o's setting.
		comp=$(makefile_of "$dir" | grep -E "^[[:space:]]*[a-z0-9_]+-(y|objs)[[:space:]]*[+:]?=(.*[[:space:]])?$name([[:space:]]|$)" |
			head -1 | sed -E 's/^[[:space:]]*([a-z0-9_]+)-.*/\1/' || true)
		if [ -n "$comp" ] && [ "$comp" != obj ]; then
			config_of "$dir" "$comp.o"
		else
			echo "?"
		fi
		return
	fi
	case "$line" in
	*'$(CONFIG_'*) v=$(value "$(sed -E 's/^[[:space:]]*obj-\$\((CONFIG_[A-Z0-9_]+)\).*/\1/' <<<"$line")") ;;
	*) v=y ;;
	esac
	# A directory descended into only under a symbol of its own.
	if [ -n "$v" ] && [ "${dir%/*}" != "$dir" ]; then
		local up
		up=$(config_of "${dir%/*}" "${dir##*/}/")
		[ "$up" = "?" ] && up=y		# reached through a Kbuild list, as mm/ is
		[ "$up" = m ] && [ "$v" = y ] && v=m
		[ -n "$up" ] || v=""
	fi
	echo "$v"
}

objs=() mods=() skipped=() unread=()
for src in "${sources[@]}"; do
	[ -f "$tree/$src" ] || die "$src is in the series or an overlay but not in $tree"
	src_dir=$(dirname "$src") src_obj=$(basename "${src%.c}.o")
	case "$(config_of "$src_dir" "$src_obj")" in
	y) objs+=("${src%.c}.o") ;;
	m) objs+=("${src%.c}.o"); mods+=("${src%.c}.o") ;;
	# Kbuild lists it in a way config_of does not read (page-alloc-y,
	# mmu-$(CONFIG_MMU), ifdef blocks): compile it all the same.
	"?") objs+=("${src%.c}.o"); unread+=("$src") ;;
	*) skipped+=("$src") ;;
	esac
done
[ ${#objs[@]} -gt 0 ] || die "nothing to compile: the series and overlays name no .c file the configuration builds"
echo "  CC      ${#objs[@]} objects (modules: ${mods[*]:-none}; not configured: ${skipped[*]:-none}${unread:+; Makefile entry not understood, compiled anyway: ${unread[*]}})"
# -Werror: a warning fails the build every time, not only when the object
# is compiled afresh.
"${kmake[@]}" KCFLAGS=-Werror "${objs[@]}" >"$obj/objects.log" 2>&1 ||
	die "compiling under the tenant configuration failed:
$(grep -E -m20 'error|Error' "$obj/objects.log" || tail -20 "$obj/objects.log")"
if grep -q 'warning:' "$obj/objects.log"; then
	die "warnings under the tenant configuration:
$(grep -E -A3 'warning:' "$obj/objects.log" | head -30)"
fi

# Exports: Debian's build of the same release, and what the series adds
# (its hook patches' EXPORT_SYMBOL*() lines and the overlays').
exports=$(mktemp)
trap 'rm -f "$exports"' EXIT
{
	awk '{print $2}' "$symvers"
	echo __this_module		# each module's own, made by modpost
	{
		git -C "$tree" diff base -- '*.c' '*.S' '*.h' | sed -n 's/^+//p'
		for d in guest-mm hballoon; do
			find "$top/$d" \( -name '*.c' -o -name '*.h' \) -not -path '*/tools/*' -exec cat {} +
		done
	} | grep -oE 'EXPORT_[A-Z_]*SYMBOL[A-Z_]*\([[:space:]]*[A-Za-z0-9_]+' |
		sed -E 's/.*\([[:space:]]*//'
} | sort -u >"$exports"
bad=0
for m in "${mods[@]}"; do
	missing=$(nm -u "$obj/$m" | awk '{print $2}' | sort -u | comm -23 - "$exports")
	if [ -n "$missing" ]; then
		echo "  $m uses symbols the kernel does not export: $(echo $missing)" >&2
		bad=1
	fi
done
[ $bad -eq 0 ] || die "a module would not load (see above)"
echo "  OK      $(make -s -C "$tree" kernelversion): the series' files compile without warnings under ${obj##*/}/.config; modules link against exported symbols only"
