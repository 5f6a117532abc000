package spec

import "fmt"

// contract checks the schema contract: the source's unknown and missing
// column policies and each field's missing policy. A field's missing
// policy that is invalid because the source's is, which the field
// inherited, is reported once, at the source.
func (c *checker) contract() {
	src := c.s.Source
	c.addErr("source.unknown_columns", src.UnknownColumns.Check())
	srcErr := src.MissingColumns.Check()
	c.addErr("source.missing_columns", srcErr)
	for i, f := range c.s.Fields {
		if srcErr != nil && f.Missing == src.MissingColumns {
			continue
		}
		c.addErr(fmt.Sprintf("fields[%d].missing", i), f.Missing.Check())
	}
}
