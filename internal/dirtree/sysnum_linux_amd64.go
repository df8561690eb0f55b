package dirtree

const sysCopyFileRange = 326
