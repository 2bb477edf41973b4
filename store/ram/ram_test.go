package ram_test

import (
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) farm.AnimalStore { return ram.New() })
}
