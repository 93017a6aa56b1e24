#!/bin/sh
# Prints its environment, one NAME=value per line.
env
