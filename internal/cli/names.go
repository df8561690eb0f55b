package cli

import (
	"fmt"
	"math/rand/v2"
)

var (
	nameAdjectives = []string{"amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager",
		"fancy", "gentle", "golden", "happy", "jolly", "keen", "lively", "lucky", "mellow", "misty", "noble", "plucky",
		"proud", "quick", "quiet", "rapid", "shiny", "silent", "snowy", "solar", "spry", "steady", "sunny", "swift",
		"tidy", "vivid", "witty", "zesty"}
	nameNouns = []string{"badger", "beaver", "bison", "cedar", "comet", "crane", "falcon", "fern", "finch", "fox",
		"gecko", "heron", "ibis", "koala", "lark", "lemur", "lynx", "maple", "marten", "meadow", "moose", "newt",
		"orca", "otter", "owl", "panda", "pine", "puffin", "quail", "raven", "river", "robin", "salmon", "sparrow",
		"tiger", "walrus", "willow", "wren"}
)

// friendlyName makes a database name like "brave-tiger-42", as DB9's CLI does.
func friendlyName() string {
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[rand.IntN(len(nameAdjectives))],
		nameNouns[rand.IntN(len(nameNouns))], 10+rand.IntN(90))
}
