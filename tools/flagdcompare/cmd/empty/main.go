// Command empty imports nothing: the baseline of measure.sh's sizes and cold
// build times (the runtime and the standard library every program pays).
package main

func main() {}
