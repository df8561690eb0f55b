package dirtree

const sysCopyFileRange = 285
