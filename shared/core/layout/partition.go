package layout

import (
	"fmt"
	"path"
	"strings"
)

// hiveEscaped are the printable ASCII characters Hive escapes in a
// partition value.
const hiveEscaped = "\"#%'*/:=?\\{[]^"

const hexDigits = "0123456789ABCDEF"

// AppendHiveEscaped appends the partition value s as a partition folder
// holds it: escaped as Hive escapes it, plus every byte that is not
// printable ASCII, as %XX (upper-case hex); an empty value is HiveNull.
func AppendHiveEscaped(dst, s []byte) []byte {
	if len(s) == 0 {
		return append(dst, HiveNull...)
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || strings.IndexByte(hiveEscaped, c) >= 0 {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// PartitionLevel is one key=value level of a partition folder, its value
// unescaped. A null or empty value reads as HiveNull.
type PartitionLevel struct {
	Key, Value string
}

// PartitionPath builds the partition folder of levels: the inverse of
// ParsePartition.
func PartitionPath(levels []PartitionLevel) string {
	var b []byte
	for i, l := range levels {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, l.Key...)
		b = append(b, '=')
		if l.Value == HiveNull {
			b = append(b, HiveNull...)
			continue
		}
		b = AppendHiveEscaped(b, []byte(l.Value))
	}
	return string(b)
}

// ParsePartition reads a partition folder, k1=v1/k2=v2 ("" for none),
// into its levels, outermost first, with the values unescaped.
func ParsePartition(partition string) ([]PartitionLevel, error) {
	if partition == "" {
		return nil, nil
	}
	var levels []PartitionLevel
	for _, seg := range strings.Split(partition, "/") {
		key, value, ok := strings.Cut(seg, "=")
		if !ok || key == "" || value == "" {
			return nil, fmt.Errorf("partition folder %q: %q is not key=value", partition, seg)
		}
		v, err := unescapeHive(value)
		if err != nil {
			return nil, fmt.Errorf("partition folder %q: %w", partition, err)
		}
		levels = append(levels, PartitionLevel{Key: key, Value: v})
	}
	return levels, nil
}

// unescapeHive undoes AppendHiveEscaped's %XX escapes.
func unescapeHive(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		hi, lo := -1, -1
		if i+2 < len(s) {
			hi, lo = strings.IndexByte(hexDigits, s[i+1]), strings.IndexByte(hexDigits, s[i+2])
		}
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("bad escape in value %q", s)
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	return string(b), nil
}

// PartitionOf is the partition folder ("" for none) of a part published
// under out: the folders between out and the part's file name.
func PartitionOf(out, key string) (string, error) {
	rel, ok := strings.CutPrefix(key, Dir(out))
	if !ok || rel == "" || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("part %s is not a file under %q", key, out)
	}
	dir := path.Dir(rel)
	if dir == "." {
		return "", nil
	}
	return dir, nil
}

// PartitionPrefix is one partition's folder under out, as a prefix that
// lists as a folder: out/k1=v1/k2=v2/.
func PartitionPrefix(out, partition string) string { return Dir(Join(out, partition)) }
