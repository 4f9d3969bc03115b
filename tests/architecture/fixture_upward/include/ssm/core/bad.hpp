#pragma once
// Fixture of tests/architecture: core reaching up into layers must be refused.
#include "ssm/layers/model.hpp"
