// Command transform is the transform Lambda: one chunk in, staged parts
// and rejects out.
package main

import (
	"github.com/sluice-etl/sluice/shared/handler"
)

func main() {
	handler.Main("transform", func(env *handler.Env) any {
		d := env.Deps
		d.EMF = nil // the transform function writes no metrics
		return handler.NewTransformer(env.Settings, d).Handle
	})
}
