#pragma once
// Deprecated location: the audio headers live in ssm/io/audio/ (beside src/io/audio/).
// This forwarding header keeps old includes compiling; include "ssm/io/audio/audio_file.hpp".
#include "ssm/io/audio/audio_file.hpp"
